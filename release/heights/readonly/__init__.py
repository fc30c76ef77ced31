"""Read-only helper modules that the course notebooks import.

backprop         training data, training loop and pictures for 1-Backpropagation
backprop_checks  the tests that grade 1-Backpropagation
heights          heights data and pictures for 2-FittingDistribution
heights_checks   the tests that grade 2-FittingDistribution
checking         what the two checks modules share: calling learner code, comparing numbers
guards           what the checks hand a learner's function to see a numerical derivative computed
interface        the four functions every checks module provides (ChecksModule)
gradients        the numerical references the checks compare with
"""
