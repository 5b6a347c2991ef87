"""WebDAV servers for the webdav remote's tests, on 127.0.0.1 and a free port (printed as
"listening on PORT" once bound).

    python3 dav_server.py wsgidav ROOT
        WsgiDAV (PyPI wsgidav, served by cheroot) over the folder ROOT, anonymous access:
        the "other" vendor's server, as shipped.

    python3 dav_server.py nextcloud ROOT UPLOADS
        A stand-in for Nextcloud, which cannot run here: WsgiDAV serves ROOT as
        /remote.php/dav/files/ann/ (basic auth ann:secret, or the bearer token in
        UPLOADS/token, checked by the middleware), and a middleware adds what Nextcloud
        does beyond WebDAV and what the webdav remote relies on, following Nextcloud's
        documentation:
        - chunked upload v2 (developer manual, "Chunked file upload"): MKCOL of
          /remote.php/dav/uploads/ann/<folder> with a Destination header; PUT of chunks named
          1..10000 (any zero padding) into it, each with the same Destination; MOVE of
          <folder>/.file onto the Destination assembles the chunks in numeric order, checks
          OC-Total-Length, applies X-OC-Mtime and answers X-OC-Mtime: accepted; DELETE of the
          folder drops the upload. Chunks go to UPLOADS.
        - PUT writes a part file and renames it over the target once whole (so a broken
          upload leaves the old file), and applies X-OC-Mtime.
        - PROPPATCH of {DAV:}lastmodified (unix seconds) sets the file's time.
        Every request is appended to UPLOADS/requests.log ("METHOD PATH"), so the tests can
        see which protocol the client used.
"""

import base64
import io
import os
import re
import shutil
import sys
import threading
import urllib.parse

from cheroot import wsgi
from wsgidav.wsgidav_app import WsgiDAVApp

FILES = "/remote.php/dav/files/ann"
UPLOADS = "/remote.php/dav/uploads/ann"


def respond(start_response, status, body=b"", headers=()):
    start_response(status, [("Content-Length", str(len(body)))] + list(headers))
    return [body]


class NextcloudStandIn:
    """The Nextcloud behaviour described above, in front of WsgiDAV."""

    def __init__(self, app, root, uploads):
        self.app, self.root, self.uploads = app, root, uploads
        self.lock = threading.Lock()

    def authorized(self, header):
        """Basic ann:secret, or the bearer token in UPLOADS/token when there is one."""
        if header == "Basic " + base64.b64encode(b"ann:secret").decode():
            return True
        try:
            with open(os.path.join(self.uploads, "token")) as f:
                return header == "Bearer " + f.read().strip()
        except OSError:
            return False

    def log(self, environ):
        with self.lock, open(os.path.join(self.uploads, "requests.log"), "a") as f:
            f.write("%s %s\n" % (environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")))

    def file_path(self, path):
        """The local path of a decoded URL path below FILES, or None."""
        if not path.startswith(FILES + "/"):
            return None
        rel = path[len(FILES) + 1:].strip("/")
        if ".." in rel.split("/"):
            return None
        return os.path.join(self.root, rel)

    def destination(self, environ):
        dest = environ.get("HTTP_DESTINATION", "")
        return urllib.parse.unquote(urllib.parse.urlsplit(dest).path)

    def __call__(self, environ, start_response):
        self.log(environ)
        if not self.authorized(environ.get("HTTP_AUTHORIZATION", "")):
            return respond(start_response, "401 Unauthorized", b"", [("WWW-Authenticate", 'Basic realm="nc"')])
        method = environ["REQUEST_METHOD"]
        # WSGI hands the decoded path as Latin-1 text of its bytes.
        path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
        if path.startswith(UPLOADS + "/"):
            return self.upload(environ, start_response, method, path[len(UPLOADS) + 1:])
        if method == "PUT" and self.file_path(path):
            return self.put(environ, start_response, self.file_path(path))
        if method == "PROPPATCH" and self.file_path(path):
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            m = re.search(rb"<(?:\w+:)?lastmodified[^>]*>\s*(-?\d+)\s*<", body)
            if m:
                target = self.file_path(path)
                if not os.path.exists(target):
                    return respond(start_response, "404 Not Found")
                t = int(m.group(1))
                os.utime(target, (t, t))
                doc = ('<?xml version="1.0"?><d:multistatus xmlns:d="DAV:"><d:response><d:href>%s</d:href>'
                       '<d:propstat><d:prop><d:lastmodified/></d:prop><d:status>HTTP/1.1 200 OK</d:status>'
                       '</d:propstat></d:response></d:multistatus>' % path).encode()
                return respond(start_response, "207 Multi-Status", doc, [("Content-Type", "application/xml")])
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return self.app(environ, start_response)

    def put(self, environ, start_response, target):
        if not os.path.isdir(os.path.dirname(target)):
            return respond(start_response, "409 Conflict")
        if os.path.isdir(target):
            return respond(start_response, "405 Method Not Allowed")
        part = target + ".ocTransferId%d.part" % threading.get_ident()
        length = environ.get("CONTENT_LENGTH")
        src = environ["wsgi.input"]
        got = 0
        try:
            with open(part, "wb") as f:
                while True:
                    want = 1 << 20 if length is None else min(1 << 20, int(length) - got)
                    if want <= 0:
                        break
                    data = src.read(want)
                    if not data:
                        break
                    f.write(data)
                    got += len(data)
            if length is not None and got != int(length):
                raise IOError("short body")
        except Exception:
            if os.path.exists(part):
                os.remove(part)
            return respond(start_response, "400 Bad Request")
        existed = os.path.exists(target)
        os.replace(part, target)
        mtime = environ.get("HTTP_X_OC_MTIME")
        headers = []
        if mtime:
            os.utime(target, (int(float(mtime)), int(float(mtime))))
            headers.append(("X-OC-Mtime", "accepted"))
        return respond(start_response, "204 No Content" if existed else "201 Created", b"", headers)

    def upload(self, environ, start_response, method, rest):
        parts = [p for p in rest.strip("/").split("/") if p]
        if not parts or any(p in (".", "..") for p in parts):
            return respond(start_response, "400 Bad Request")
        folder = os.path.join(self.uploads, parts[0])
        dest = self.destination(environ)
        if method == "MKCOL" and len(parts) == 1:
            if not dest or not self.file_path(dest):
                return respond(start_response, "400 Bad Request", b"Destination header missing")
            if os.path.exists(folder):
                return respond(start_response, "405 Method Not Allowed")
            os.makedirs(folder)
            with open(os.path.join(folder, ".destination"), "w") as f:
                f.write(dest)
            return respond(start_response, "201 Created")
        if not os.path.isdir(folder):
            return respond(start_response, "404 Not Found")
        with open(os.path.join(folder, ".destination")) as f:
            expected = f.read()
        if method == "DELETE" and len(parts) == 1:
            shutil.rmtree(folder)
            return respond(start_response, "204 No Content")
        if method == "PUT" and len(parts) == 2:
            if not parts[1].isdigit() or not 1 <= int(parts[1]) <= 10000:
                return respond(start_response, "400 Bad Request", b"chunk names are numbers 1 to 10000")
            if dest != expected:
                return respond(start_response, "400 Bad Request", b"Destination differs from the MKCOL's")
            length = int(environ.get("CONTENT_LENGTH") or 0)
            data = environ["wsgi.input"].read(length)
            if len(data) != length:
                return respond(start_response, "400 Bad Request")
            with open(os.path.join(folder, "%05d" % int(parts[1])), "wb") as f:
                f.write(data)
            return respond(start_response, "201 Created")
        if method == "MOVE" and len(parts) == 2 and parts[1] == ".file":
            if dest != expected:
                return respond(start_response, "400 Bad Request", b"Destination differs from the MKCOL's")
            target = self.file_path(dest)
            if not os.path.isdir(os.path.dirname(target)):
                return respond(start_response, "409 Conflict")
            chunks = sorted((c for c in os.listdir(folder) if c.isdigit()), key=int)
            part = target + ".ocTransferId-chunked.part"
            with open(part, "wb") as out:
                for c in chunks:
                    with open(os.path.join(folder, c), "rb") as f:
                        shutil.copyfileobj(f, out)
            size = os.path.getsize(part)
            total = environ.get("HTTP_OC_TOTAL_LENGTH")
            if total is not None and int(total) != size:
                os.remove(part)
                return respond(start_response, "400 Bad Request", b"OC-Total-Length does not match")
            existed = os.path.exists(target)
            os.replace(part, target)
            headers = []
            mtime = environ.get("HTTP_X_OC_MTIME")
            if mtime:
                os.utime(target, (int(mtime), int(mtime)))
                headers.append(("X-OC-Mtime", "accepted"))
            shutil.rmtree(folder)
            return respond(start_response, "204 No Content" if existed else "201 Created", b"", headers)
        return respond(start_response, "405 Method Not Allowed")


def main():
    kind, root = sys.argv[1], sys.argv[2]
    if kind == "wsgidav":
        config = {
            "provider_mapping": {"/": root},
            "simple_dc": {"user_mapping": {"*": True}},
            "http_authenticator": {"domain_controller": None},
            "verbose": 0,
            "logging": {"enable_loggers": []},
            "dir_browser": {"enable": False},
        }
        app = WsgiDAVApp(config)
    else:
        uploads = sys.argv[3]
        config = {
            "provider_mapping": {FILES: root},
            "simple_dc": {"user_mapping": {"*": True}},
            "http_authenticator": {"domain_controller": None},
            "verbose": 0,
            "logging": {"enable_loggers": []},
            "dir_browser": {"enable": False},
        }
        app = NextcloudStandIn(WsgiDAVApp(config), root, uploads)
    server = wsgi.Server(("127.0.0.1", 0), app, numthreads=8)
    server.prepare()
    print("listening on %d" % server.bind_addr[1], flush=True)
    server.serve()


if __name__ == "__main__":
    main()
