-- How the gateway starts a remote server's worker over SSH (`server start`): the command that
-- runs MER's worker there (default `mer-meal` on the remote PATH) and the directory that holds
-- its settings, cache, spool and log (default `.mer`, relative to the SSH user's home).

DEFINE FIELD remote_command ON server TYPE option<string>;
DEFINE FIELD remote_dir ON server TYPE option<string>;
