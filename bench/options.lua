-- OPTIONS requests (CORS preflights); the headers come from -H.
wrk.method = "OPTIONS"
