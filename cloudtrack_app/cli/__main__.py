from cloudtrack_app.cli import main

main(prog_name="python -m cloudtrack_app.cli")
