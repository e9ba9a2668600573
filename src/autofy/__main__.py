from autofy.cli import app

app(prog_name="autofy")
