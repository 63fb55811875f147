"""The composition root: settings, building the app and its channels, the HTTP server and
the `kabinet` command line. The one package allowed to import every other one."""
