"""Pure domain: dataclasses, enums, rules and error types. Imports nothing of ours."""
