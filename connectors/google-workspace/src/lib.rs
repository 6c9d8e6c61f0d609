//! Google Workspace connector (in progress).
