"""The LangGraph server's edge: API keys, roles and thread ownership (`langgraph.json` auth)."""
