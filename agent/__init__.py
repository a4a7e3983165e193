"""The reference device agent: plays one real device over agent protocol v1.1 (v1 plus the
signing-key rollover of docs/agent-protocol-v1.1.md; `Device(protocol="1.0")` plays a v1 agent).

It imports no server code: it speaks only the protocol (shared/spec/agent-protocol.md), like
any third-party agent would. State lives in one folder (see agent.state).
"""

__version__ = "1.0.0"
PROTOCOL_VERSIONS = ("1.0", "1.1")
PROTOCOL_VERSION = "1.1"
