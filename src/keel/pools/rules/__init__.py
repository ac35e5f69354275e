"""Pure rules of peer pools (no Django): the rules as data, sick-leave gifts, votes and claim
approvals, emergency grants, health cost-sharing, rotating savings, and the solvency simulator.
"""
