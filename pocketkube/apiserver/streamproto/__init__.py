"""Wire protocols of the streaming subresources (exec, attach, port-forward), shared by apiserver and node agent.

Theory of operation: kubectl talks to the node agent's streaming server through
the apiserver, which after authorizing proxies the upgraded connection byte for
byte (`http1.py` dials the node, `transport.py` takes over aiohttp's connection
after the 101). The node agent terminates every protocol kubectl speaks:

- `channels`: the WebSocket channel protocol (v4/v5.channel.k8s.io): one
  channel byte per binary message, v5's [255, ch] close signal, the Status
  object on channel 3, resize JSON on channel 4.
- `spdy_frames` / `spdy_session`: SPDY/3.1 framing (zlib header blocks with
  the SPDY/3 dictionary) and an asyncio session with streams and flow control,
  used raw (`Upgrade: SPDY/3.1`) or tunnelled in WebSocket binary messages
  (`SPDY/3.1+portforward.k8s.io`).
- `remotecommand`: runs a process session over WebSocket channels or SPDY
  streams (server side) and drives a remote one over SPDY v4 (client side, to
  bridge to containerd's CRI streaming server, which has no v5).
- `portforward`: SPDY port-forward stream pairs (server side and client side).

These modules live under apiserver/ because that is the lowest layer both the
apiserver and the node agent may import, as upstream keeps them in
apimachinery's httpstream below both; nothing here touches storage or objects.
"""
