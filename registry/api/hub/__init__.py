"""The Hub's own HTTP APIs beside the registry's: the token server and (later) search and the JSON API."""
