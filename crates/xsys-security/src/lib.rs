//! xsys-security
