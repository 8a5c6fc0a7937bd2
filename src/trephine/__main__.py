from trephine.cli.main import app

app(prog_name="trephine")
