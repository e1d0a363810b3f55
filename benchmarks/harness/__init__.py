"""Orchestration for the Socket.IO benchmarks: targets, scenarios, processes and the report."""
