"""Vietnamese specifics: text folding and intents, phone and ID numbers, dates of birth."""
