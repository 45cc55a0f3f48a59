"""The contest's rules as plain constants, shared by every app and by the Django-free engine and validator."""
