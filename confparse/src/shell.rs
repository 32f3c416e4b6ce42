//! Shell-like tokenizer for script keywords (reference 1.3).
