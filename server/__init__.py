"""The server's pieces beside the routes: the wire protocol, errors, settings, pushes, the
audit trail, the page files and the adapter to ComfyUI. Standard-library-only modules here
(``protocol``, ``describe``, ``errors``) are also loaded by ``cli.py``, so this file imports nothing."""
