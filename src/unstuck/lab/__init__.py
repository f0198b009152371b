"""unstuck.lab"""
