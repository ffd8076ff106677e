"""`conductor bench`: Conductor beside raw asyncio and plain LangGraph on the simulated endpoint."""
