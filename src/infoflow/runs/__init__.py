"""The run-folder format: writer and reader together, and the folder's safety rules."""
