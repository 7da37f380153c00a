# BASE: correct
# An infinite loop inside a function: its checks time out, a fresh sandbox serves the rest.
def activation(name, z):
    while True:
        pass
