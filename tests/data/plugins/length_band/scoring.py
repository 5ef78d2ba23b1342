def within(value, low, high):
    return low <= value <= high
