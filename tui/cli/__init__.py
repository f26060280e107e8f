"""The `byok` command line: `main` parses and dispatches, each command group's module holds its
parser and its handlers; `output` prints, `credentials` reads a credential without argv."""
