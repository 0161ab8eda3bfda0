#!/usr/bin/env python3
"""Writes RFC 3507's examples (sections 4.8.3, 4.9.3, 4.10.3) as CRLF test vectors.

The text is the RFC's, with the page breaks removed and CRLF line ends (RFC 3507 section 4.8.3
assumes them). Encapsulated offsets and chunk sizes are computed from the bytes, not copied.
"""
import re

def crlf(lines):
    return "".join(l + "\r\n" for l in lines)

def message(start, headers, sections, body=None, body_name=None):
    """sections: list of (name, [lines]) for encapsulated HTTP heads."""
    enc, off, blob = [], 0, ""
    for name, lines in sections:
        enc.append(f"{name}={off}")
        part = crlf(lines) + "\r\n"
        blob += part
        off += len(part)
    if body is None:
        enc.append(f"null-body={off}")
        chunks = ""
    else:
        enc.append(f"{body_name}={off}")
        data = body.encode()
        chunks = f"{len(data):x}\r\n{body}\r\n0\r\n\r\n"
    hdrs = [h if not h.startswith("Encapsulated:") else "Encapsulated: " + ", ".join(enc) for h in headers]
    return (crlf([start] + hdrs) + "\r\n" + blob + chunks).encode()

V = {}
V["reqmod1-request"] = message(
    "REQMOD icap://icap-server.net/server?arg=87 ICAP/1.0",
    ["Host: icap-server.net", "Encapsulated:"],
    [("req-hdr", ["GET / HTTP/1.1", "Host: www.origin-server.com", "Accept: text/html, text/plain",
                  "Accept-Encoding: compress", "Cookie: ff39fk3jur@4ii0e02i", 'If-None-Match: "xyzzy", "r2d2xxxx"'])])
V["reqmod1-response"] = message(
    "ICAP/1.0 200 OK",
    ["Date: Mon, 10 Jan 2000  09:55:21 GMT", "Server: ICAP-Server-Software/1.0", "Connection: close",
     'ISTag: "W3E4R7U9-L2E4-2"', "Encapsulated:"],
    [("req-hdr", ["GET /modified-path HTTP/1.1", "Host: www.origin-server.com",
                  "Via: 1.0 icap-server.net (ICAP Example ReqMod Service 1.1)",
                  "Accept: text/html, text/plain, image/gif", "Accept-Encoding: gzip, compress",
                  'If-None-Match: "xyzzy", "r2d2xxxx"'])])
V["reqmod2-request"] = message(
    "REQMOD icap://icap-server.net/server?arg=87 ICAP/1.0",
    ["Host: icap-server.net", "Encapsulated:"],
    [("req-hdr", ["POST /origin-resource/form.pl HTTP/1.1", "Host: www.origin-server.com",
                  "Accept: text/html, text/plain", "Accept-Encoding: compress", "Pragma: no-cache"])],
    "I am posting this information.", "req-body")
V["reqmod2-response"] = message(
    "ICAP/1.0 200 OK",
    ["Date: Mon, 10 Jan 2000  09:55:21 GMT", "Server: ICAP-Server-Software/1.0", "Connection: close",
     'ISTag: "W3E4R7U9-L2E4-2"', "Encapsulated:"],
    [("req-hdr", ["POST /origin-resource/form.pl HTTP/1.1", "Host: www.origin-server.com",
                  "Via: 1.0 icap-server.net (ICAP Example ReqMod Service 1.1)",
                  "Accept: text/html, text/plain, image/gif", "Accept-Encoding: gzip, compress",
                  "Pragma: no-cache", "Content-Length: 45"])],
    "I am posting this information.  ICAP powered!", "req-body")
V["reqmod3-request"] = message(
    "REQMOD icap://icap-server.net/content-filter ICAP/1.0",
    ["Host: icap-server.net", "Encapsulated:"],
    [("req-hdr", ["GET /naughty-content HTTP/1.1", "Host: www.naughty-site.com",
                  "Accept: text/html, text/plain", "Accept-Encoding: compress"])])
V["reqmod3-response"] = message(
    "ICAP/1.0 200 OK",
    ["Date: Mon, 10 Jan 2000  09:55:21 GMT", "Server: ICAP-Server-Software/1.0", "Connection: close",
     'ISTag: "W3E4R7U9-L2E4-2"', "Encapsulated:"],
    [("res-hdr", ["HTTP/1.1 403 Forbidden", "Date: Wed, 08 Nov 2000 16:02:10 GMT",
                  "Server: Apache/1.3.12 (Unix)", "Last-Modified: Thu, 02 Nov 2000 13:51:37 GMT",
                  'ETag: "63600-1989-3a017169"', "Content-Length: 58", "Content-Type: text/html"])],
    "Sorry, you are not allowed to access that naughty content.", "res-body")
V["respmod4-request"] = message(
    "RESPMOD icap://icap.example.org/satisf ICAP/1.0",
    ["Host: icap.example.org", "Encapsulated:"],
    [("req-hdr", ["GET /origin-resource HTTP/1.1", "Host: www.origin-server.com",
                  "Accept: text/html, text/plain, image/gif", "Accept-Encoding: gzip, compress"]),
     ("res-hdr", ["HTTP/1.1 200 OK", "Date: Mon, 10 Jan 2000 09:52:22 GMT", "Server: Apache/1.3.6 (Unix)",
                  'ETag: "63840-1ab7-378d415b"', "Content-Type: text/html", "Content-Length: 51"])],
    "This is data that was returned by an origin server.", "res-body")
V["respmod4-response"] = message(
    "ICAP/1.0 200 OK",
    ["Date: Mon, 10 Jan 2000  09:55:21 GMT", "Server: ICAP-Server-Software/1.0", "Connection: close",
     'ISTag: "W3E4R7U9-L2E4-2"', "Encapsulated:"],
    [("res-hdr", ["HTTP/1.1 200 OK", "Date: Mon, 10 Jan 2000  09:55:21 GMT",
                  "Via: 1.0 icap.example.org (ICAP Example RespMod Service 1.1)",
                  "Server: Apache/1.3.6 (Unix)", 'ETag: "63840-1ab7-378d415b"', "Content-Type: text/html",
                  "Content-Length: 92"])],
    "This is data that was returned by an origin server, but with value added by an ICAP server.",
    "res-body")
V["options5-request"] = crlf(["OPTIONS icap://icap.server.net/sample-service ICAP/1.0", "Host: icap.server.net",
                              "User-Agent: BazookaDotCom-ICAP-Client-Library/2.3", ""]).encode()
V["options5-response"] = crlf(["ICAP/1.0 200 OK", "Date: Mon, 10 Jan 2000  09:55:21 GMT", "Methods: RESPMOD",
                               "Service: FOO Tech Server 1.0", 'ISTag: "W3E4R7U9-L2E4-2"',
                               "Encapsulated: null-body=0", "Max-Connections: 1000", "Options-TTL: 7200",
                               "Allow: 204", "Preview: 2048", "Transfer-Complete: asp, bat, exe, com",
                               "Transfer-Ignore: html", "Transfer-Preview: *", ""]).encode()
for name, data in V.items():
    with open(f"{name}.icap", "wb") as f:
        f.write(data)
