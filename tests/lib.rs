//! Workspace-level end-to-end tests for roster; see `e2e/`.
