"""Where agents keep their transcripts, whether one is provably gone, and the store's copy.

``locate``: per agent CLI, the files of one session in an agent home. ``presence``: what
sessmap can prove about a session's transcript (here, archived, stored, gone, or unknown and
why). ``sync``: restoring the store's copy before a run and appending what a run added.
"""
