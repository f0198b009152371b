"""unstuck.check"""
