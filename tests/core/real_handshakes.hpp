// Real WebSocket opening handshakes, byte for byte, shared by the HTTP parser and handshake tests.
//
// How they were captured (on Debian 12, 127.0.0.1):
//  * Requests: a throwaway Python listener (/usr/bin/python3, plain socket) accepted one
//    connection and saved the bytes received up to the blank line; each client was then pointed
//    at ws://127.0.0.1:PORT/chat (the listener never answered, so the clients gave up):
//      - Chromium 156.0.8078.79 (Debian package), headless, loading a local file that runs
//        `new WebSocket('ws://127.0.0.1:9104/chat')`;
//      - curl 7.88.1, which has no ws:// support in this build, so it was used the common way:
//        `curl --http1.1 -i -N -H "Connection: Upgrade" -H "Upgrade: websocket"
//         -H "Sec-WebSocket-Version: 13" -H "Sec-WebSocket-Key: SGVsbG8sIHdvcmxkIQ=="
//         http://127.0.0.1:9103/chat`;
//      - Python websockets 10.4 (Debian python3-websockets, Python 3.11):
//        `websockets.connect("ws://127.0.0.1:9101/chat?room=1")`;
//      - Node ws 8.23.0 (npm) on Node 20.20.2: `new WebSocket('ws://127.0.0.1:9102/chat')`.
//    Firefox was not available: its request is written from knowledge of the format Firefox
//    115-128 sends (header order, "Connection: keep-alive, Upgrade", Sec-Fetch-*), NOT captured;
//    its key is an arbitrary valid one.
//  * Responses: the servers below were started on 127.0.0.1 and a raw Python socket sent one of
//    the `raw_request*` heads below (fixed key dGhlIHNhbXBsZSBub25jZQ==, RFC 6455 §1.3), then
//    saved everything received within one second:
//      - Python websockets 10.4 `websockets.serve(handler, ...)`, the handler sending "hello";
//      - Node ws 8.23.0 `new WebSocket.Server({...})`, on connection sending "hello";
//    so those two responses are followed by the server's first frame (0x81 0x05 "hello"),
//    exactly as it arrived in the same read. With subprotocols=["chat"] (Python) and
//    perMessageDeflate + handleProtocols (Node), for raw_request_with_offers; and Python
//    websockets' refusal of Sec-WebSocket-Version: 8 (a 400 with a body).
//
// The expected fields were transcribed by hand from the captured bytes.
#pragma once

#include <string_view>
#include <vector>

namespace real_handshakes {

struct field {
    std::string_view name;  // as sent (case kept)
    std::string_view value; // without surrounding spaces and tabs
};

struct request {
    std::string_view source;   // client and version; "captured" or "written from knowledge"
    std::string_view head;     // the request head exactly as sent, through the blank line
    std::string_view method;
    std::string_view target;
    std::string_view key;      // its Sec-WebSocket-Key
    std::vector<field> fields; // every field line, in order
};

struct response {
    std::string_view source;   // server and version
    std::string_view request;  // the head the raw client sent to get this response
    std::string_view head;     // the response head exactly as received, through the blank line
    std::string_view after;    // bytes that arrived right after the head (a frame or a body)
    unsigned status;
    std::string_view reason;
    std::vector<field> fields; // every field line, in order
};

// The Sec-WebSocket-Key every raw request uses (RFC 6455 §1.3) and its Accept value.
inline constexpr std::string_view raw_key = "dGhlIHNhbXBsZSBub25jZQ==";
inline constexpr std::string_view raw_accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

// Sent to get python_101 and node_101 (the Host port was the server's).
inline constexpr std::string_view raw_request_python =
    "GET /chat HTTP/1.1\r\n"
    "Host: 127.0.0.1:9201\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "\r\n";
inline constexpr std::string_view raw_request_node =
    "GET /chat HTTP/1.1\r\n"
    "Host: 127.0.0.1:9202\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "\r\n";
// Offers subprotocols and permessage-deflate.
inline constexpr std::string_view raw_request_with_offers_python =
    "GET /chat HTTP/1.1\r\n"
    "Host: 127.0.0.1:9203\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Protocol: chat, superchat\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "\r\n";
inline constexpr std::string_view raw_request_with_offers_node =
    "GET /chat HTTP/1.1\r\n"
    "Host: 127.0.0.1:9204\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Protocol: chat, superchat\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "\r\n";
// Asks for WebSocket version 8.
inline constexpr std::string_view raw_request_version_8 =
    "GET /chat HTTP/1.1\r\n"
    "Host: 127.0.0.1:9205\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 8\r\n"
    "\r\n";

inline const std::vector<request> requests = {
    {"Chromium 156.0.8078.79 headless (captured)",
     "GET /chat HTTP/1.1\r\n"
     "Host: 127.0.0.1:9104\r\n"
     "Connection: Upgrade\r\n"
     "Pragma: no-cache\r\n"
     "Cache-Control: no-cache\r\n"
     "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "HeadlessChrome/156.0.0.0 Safari/537.36\r\n"
     "Upgrade: websocket\r\n"
     "Origin: null\r\n"
     "Sec-WebSocket-Version: 13\r\n"
     "Accept-Encoding: gzip, deflate, br, zstd\r\n"
     "Accept-Language: en-US,en;q=0.9\r\n"
     "Sec-WebSocket-Key: V2KNEU18bC1Pd9BYY4viWw==\r\n"
     "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
     "\r\n",
     "GET",
     "/chat",
     "V2KNEU18bC1Pd9BYY4viWw==",
     {
         {"Host", "127.0.0.1:9104"},
         {"Connection", "Upgrade"},
         {"Pragma", "no-cache"},
         {"Cache-Control", "no-cache"},
         {"User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                        "HeadlessChrome/156.0.0.0 Safari/537.36"},
         {"Upgrade", "websocket"},
         {"Origin", "null"},
         {"Sec-WebSocket-Version", "13"},
         {"Accept-Encoding", "gzip, deflate, br, zstd"},
         {"Accept-Language", "en-US,en;q=0.9"},
         {"Sec-WebSocket-Key", "V2KNEU18bC1Pd9BYY4viWw=="},
         {"Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"},
     }},
    {"Firefox 128 (written from knowledge of its format, not captured)",
     "GET /chat HTTP/1.1\r\n"
     "Host: 127.0.0.1:9105\r\n"
     "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
     "Accept: */*\r\n"
     "Accept-Language: en-US,en;q=0.5\r\n"
     "Accept-Encoding: gzip, deflate, br, zstd\r\n"
     "Sec-WebSocket-Version: 13\r\n"
     "Origin: null\r\n"
     "Sec-WebSocket-Extensions: permessage-deflate\r\n"
     "Sec-WebSocket-Key: lYOtHJOvZrvBYqdbSxhbsQ==\r\n"
     "Connection: keep-alive, Upgrade\r\n"
     "Sec-Fetch-Dest: empty\r\n"
     "Sec-Fetch-Mode: websocket\r\n"
     "Sec-Fetch-Site: cross-site\r\n"
     "Pragma: no-cache\r\n"
     "Cache-Control: no-cache\r\n"
     "Upgrade: websocket\r\n"
     "\r\n",
     "GET",
     "/chat",
     "lYOtHJOvZrvBYqdbSxhbsQ==",
     {
         {"Host", "127.0.0.1:9105"},
         {"User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"},
         {"Accept", "*/*"},
         {"Accept-Language", "en-US,en;q=0.5"},
         {"Accept-Encoding", "gzip, deflate, br, zstd"},
         {"Sec-WebSocket-Version", "13"},
         {"Origin", "null"},
         {"Sec-WebSocket-Extensions", "permessage-deflate"},
         {"Sec-WebSocket-Key", "lYOtHJOvZrvBYqdbSxhbsQ=="},
         {"Connection", "keep-alive, Upgrade"},
         {"Sec-Fetch-Dest", "empty"},
         {"Sec-Fetch-Mode", "websocket"},
         {"Sec-Fetch-Site", "cross-site"},
         {"Pragma", "no-cache"},
         {"Cache-Control", "no-cache"},
         {"Upgrade", "websocket"},
     }},
    {"curl 7.88.1 with hand-given upgrade headers (captured)",
     "GET /chat HTTP/1.1\r\n"
     "Host: 127.0.0.1:9103\r\n"
     "User-Agent: curl/7.88.1\r\n"
     "Accept: */*\r\n"
     "Connection: Upgrade\r\n"
     "Upgrade: websocket\r\n"
     "Sec-WebSocket-Version: 13\r\n"
     "Sec-WebSocket-Key: SGVsbG8sIHdvcmxkIQ==\r\n"
     "\r\n",
     "GET",
     "/chat",
     "SGVsbG8sIHdvcmxkIQ==",
     {
         {"Host", "127.0.0.1:9103"},
         {"User-Agent", "curl/7.88.1"},
         {"Accept", "*/*"},
         {"Connection", "Upgrade"},
         {"Upgrade", "websocket"},
         {"Sec-WebSocket-Version", "13"},
         {"Sec-WebSocket-Key", "SGVsbG8sIHdvcmxkIQ=="},
     }},
    {"Python websockets 10.4 on Python 3.11 (captured)",
     "GET /chat?room=1 HTTP/1.1\r\n"
     "Host: 127.0.0.1:9101\r\n"
     "Upgrade: websocket\r\n"
     "Connection: Upgrade\r\n"
     "Sec-WebSocket-Key: CjpqDdQ7+pU6goOY/OTzpg==\r\n"
     "Sec-WebSocket-Version: 13\r\n"
     "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
     "User-Agent: Python/3.11 websockets/10.4\r\n"
     "\r\n",
     "GET",
     "/chat?room=1",
     "CjpqDdQ7+pU6goOY/OTzpg==",
     {
         {"Host", "127.0.0.1:9101"},
         {"Upgrade", "websocket"},
         {"Connection", "Upgrade"},
         {"Sec-WebSocket-Key", "CjpqDdQ7+pU6goOY/OTzpg=="},
         {"Sec-WebSocket-Version", "13"},
         {"Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"},
         {"User-Agent", "Python/3.11 websockets/10.4"},
     }},
    {"Node ws 8.23.0 on Node 20.20.2 (captured)",
     "GET /chat HTTP/1.1\r\n"
     "Sec-WebSocket-Version: 13\r\n"
     "Sec-WebSocket-Key: NGHHewJLlr2W08Pt+vROpw==\r\n"
     "Connection: Upgrade\r\n"
     "Upgrade: websocket\r\n"
     "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
     "Host: 127.0.0.1:9102\r\n"
     "\r\n",
     "GET",
     "/chat",
     "NGHHewJLlr2W08Pt+vROpw==",
     {
         {"Sec-WebSocket-Version", "13"},
         {"Sec-WebSocket-Key", "NGHHewJLlr2W08Pt+vROpw=="},
         {"Connection", "Upgrade"},
         {"Upgrade", "websocket"},
         {"Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"},
         {"Host", "127.0.0.1:9102"},
     }},
};

inline const std::vector<response> responses = {
    {"Python websockets 10.4 server, handler sends \"hello\" (captured)",
     raw_request_python,
     "HTTP/1.1 101 Switching Protocols\r\n"
     "Upgrade: websocket\r\n"
     "Connection: Upgrade\r\n"
     "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
     "Date: Mon, 23 Nov 2026 01:32:56 GMT\r\n"
     "Server: Python/3.11 websockets/10.4\r\n"
     "\r\n",
     "\x81\x05"
     "hello",
     101,
     "Switching Protocols",
     {
         {"Upgrade", "websocket"},
         {"Connection", "Upgrade"},
         {"Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="},
         {"Date", "Mon, 23 Nov 2026 01:32:56 GMT"},
         {"Server", "Python/3.11 websockets/10.4"},
     }},
    {"Node ws 8.23.0 server, sends \"hello\" on connection (captured)",
     raw_request_node,
     "HTTP/1.1 101 Switching Protocols\r\n"
     "Upgrade: websocket\r\n"
     "Connection: Upgrade\r\n"
     "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
     "\r\n",
     "\x81\x05"
     "hello",
     101,
     "Switching Protocols",
     {
         {"Upgrade", "websocket"},
         {"Connection", "Upgrade"},
         {"Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="},
     }},
    {"Python websockets 10.4 server, subprotocols=[\"chat\"] (captured)",
     raw_request_with_offers_python,
     "HTTP/1.1 101 Switching Protocols\r\n"
     "Upgrade: websocket\r\n"
     "Connection: Upgrade\r\n"
     "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
     "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12; "
     "client_max_window_bits=12\r\n"
     "Sec-WebSocket-Protocol: chat\r\n"
     "Date: Mon, 23 Nov 2026 01:33:10 GMT\r\n"
     "Server: Python/3.11 websockets/10.4\r\n"
     "\r\n",
     "",
     101,
     "Switching Protocols",
     {
         {"Upgrade", "websocket"},
         {"Connection", "Upgrade"},
         {"Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="},
         {"Sec-WebSocket-Extensions",
          "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"},
         {"Sec-WebSocket-Protocol", "chat"},
         {"Date", "Mon, 23 Nov 2026 01:33:10 GMT"},
         {"Server", "Python/3.11 websockets/10.4"},
     }},
    {"Node ws 8.23.0 server, perMessageDeflate and handleProtocols choosing \"chat\" (captured)",
     raw_request_with_offers_node,
     "HTTP/1.1 101 Switching Protocols\r\n"
     "Upgrade: websocket\r\n"
     "Connection: Upgrade\r\n"
     "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
     "Sec-WebSocket-Protocol: chat\r\n"
     "Sec-WebSocket-Extensions: permessage-deflate\r\n"
     "\r\n",
     "",
     101,
     "Switching Protocols",
     {
         {"Upgrade", "websocket"},
         {"Connection", "Upgrade"},
         {"Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="},
         {"Sec-WebSocket-Protocol", "chat"},
         {"Sec-WebSocket-Extensions", "permessage-deflate"},
     }},
    {"Python websockets 10.4 server refusing Sec-WebSocket-Version: 8 (captured)",
     raw_request_version_8,
     "HTTP/1.1 400 Bad Request\r\n"
     "Date: Mon, 23 Nov 2026 01:33:23 GMT\r\n"
     "Server: Python/3.11 websockets/10.4\r\n"
     "Content-Length: 80\r\n"
     "Content-Type: text/plain\r\n"
     "Connection: close\r\n"
     "\r\n",
     "Failed to open a WebSocket connection: invalid Sec-WebSocket-Version header: 8.\n",
     400,
     "Bad Request",
     {
         {"Date", "Mon, 23 Nov 2026 01:33:23 GMT"},
         {"Server", "Python/3.11 websockets/10.4"},
         {"Content-Length", "80"},
         {"Content-Type", "text/plain"},
         {"Connection", "close"},
     }},
};

} // namespace real_handshakes
