"""Layer 3: incident reports (html / md / pdf), server-side charts and alert delivery."""
