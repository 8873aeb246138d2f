"""Engagement ELT: calendar logic for the daily load and the weekly views."""
