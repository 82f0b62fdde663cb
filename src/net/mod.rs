//! IP ranges, CIDR math and overlap checks.
