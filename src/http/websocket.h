/*
 * websocket.h — the server side of a WebSocket (RFC 6455) once the HTTP
 * server has switched protocols: the handshake's accept value, and a relay
 * between the client's messages and a byte stream (a console, a VNC
 * connection). The framing is wslay's; nothing here parses frames.
 */
#ifndef CLOISON_HTTP_WEBSOCKET_H
#define CLOISON_HTTP_WEBSOCKET_H

#include <stdbool.h>
#include <stddef.h>

#define WS_ACCEPT_LEN 28

/* The Sec-WebSocket-Accept value for a client's Sec-WebSocket-Key; false when the key is not 16 bytes
 * in base64, as the RFC requires. */
bool ws_accept_value(const char *key, char out[WS_ACCEPT_LEN + 1]);

/* Relays between a WebSocket's server side on fd ws (pending: what the client sent after its request)
 * and a byte stream on fd peer: the payload of each message the client sends goes to peer, what peer
 * sends goes out as binary messages. Returns when either side ends (a close frame, end of file, an
 * error, a protocol violation, a message over 1 MiB, the client not reading 4 MiB it is owed, or 30 s
 * without a frame from it: it is pinged after 5 s of silence); closes neither fd. */
void ws_relay(int ws, int peer, const void *pending, size_t pending_len);

#endif
