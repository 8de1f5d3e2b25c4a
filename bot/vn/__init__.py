"""Vietnamese specifics: text folding and intents, phone numbers, masking."""
