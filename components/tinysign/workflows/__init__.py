"""Workflows: what runs stages in sequence outside KFP (cross-validation), above the stages."""
