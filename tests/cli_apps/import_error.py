import kolben_cli_test_module_that_does_not_exist  # noqa: F401
