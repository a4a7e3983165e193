"""The reference device agent: plays one real device over agent protocol v1.

It imports no server code: it speaks only the protocol (shared/spec/agent-protocol.md), like
any third-party agent would. State lives in one folder (see agent.state).
"""

__version__ = "1.0.0"
