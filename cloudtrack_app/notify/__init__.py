"""Alerts, from a pending `AlertEvent` to delivered messages (framework-free: no Reflex here).

- `facts`    typed, validated facts of one alert; money formatting (babel, Decimal).
- `compose`  the text: a language model's words when they pass the checks, else the template.
- `channels` the `Channel` interface, send errors and the registry; `email` (Resend, or SMTP through `smtp`) and
             `telegram` (python-telegram-bot, chat linking, polling/webhook) implement it.
- `dispatch` the outbox: claim, compose once, send per channel, retry, record;
             `send_test_alert` for the settings page and the CLI.
- `channel_status` what the settings page shows of each channel and its last delivery.
- `links`    signed, expiring alerts-off links; `routes` their page and the Telegram webhook.
"""
