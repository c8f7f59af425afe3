"""A lab served to a room: a roster in, attendees on their own laptops, a handout each.

`roster` reads the instructor's CSV into lab users; `handout` writes each attendee's kubeconfig and
printable sheet; `cluster` checks that the minikube profile can be reached from the room.
"""
