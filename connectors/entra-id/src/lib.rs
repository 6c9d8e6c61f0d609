//! Microsoft Entra ID connector (in progress).
