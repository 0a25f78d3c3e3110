"""The notifications service: tells users about their account and orders, and lists what it told them."""
