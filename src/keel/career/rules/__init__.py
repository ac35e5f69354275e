"""Pure rules of the career engine (no Django): client contracts and milestones, 90-day plans,
skills and rates, reputation tokens and handles, recurring offers and upsells.
"""
