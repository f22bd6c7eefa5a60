"""The browser console (issue 17): server-rendered pages for commissioners and providers over the same use cases
as the API. Signed in with an API key, kept in a server-side session (schema/0018_console.sql)."""
