"""unstuck.service"""
