"""A small connection pool with two deadlock hazards, used by README.md and docs/ to show
real lockwatch output (`lockwatch scan docs/examples`). Never run by the tests as code."""
