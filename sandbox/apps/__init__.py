"""Small Tk demo apps that record what they receive, for driving under Xvfb in tests."""
