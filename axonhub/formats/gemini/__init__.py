"""Google Gemini generateContent, as a client format and as a channel type."""
