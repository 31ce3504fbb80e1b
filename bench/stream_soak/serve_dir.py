#!/usr/bin/python3
"""Serves a folder over HTTP on 127.0.0.1 for icebird: serve_dir.py PORT DIR.

`python3 -m http.server` listens with a backlog of 5 connections; icebird fetches every manifest
of a table at once (a few hundred after a soak), and the connections past the backlog are
refused ("fetch failed"). This is the same server with a deep backlog and no request log.
"""
import functools
import http.server
import sys


class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 1024
    daemon_threads = True


Server(("127.0.0.1", int(sys.argv[1])),
       functools.partial(Handler, directory=sys.argv[2])).serve_forever()
