"""Read-only helper modules that the course notebooks import.

backprop          training data, training loop and pictures for 1-Backpropagation
backprop_pictures the pictures of 1-Backpropagation (backprop reaches the ones the notebook draws)
backprop_heart    what makes a drawing a heart, and the learner's curve drawn beside correct ones
backprop_checks   the tests that grade 1-Backpropagation
backprop_mistakes the mistakes those tests recognise, and what a learner reads when none matches
heights           heights data and pictures for 2-FittingDistribution
heights_checks    the tests that grade 2-FittingDistribution
heights_mistakes  the mistakes those tests recognise, and what a learner reads when none matches
checking          what the two checks modules share: calling learner code, comparing numbers
learner_errors    what a learner reads when their own code raises: their line, and its shapes
guards            what the checks hand a learner's function to see a numerical derivative computed
interface         the four functions every checks module provides (ChecksModule)
gradients         the numerical references the checks compare with
drawing           the pictures' rule while nbgrader runs a notebook (draw nothing), and matplotlib imported late
"""
