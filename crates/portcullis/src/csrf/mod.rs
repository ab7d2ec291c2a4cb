//! CSRF (placeholder)
